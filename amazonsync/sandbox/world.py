"""A deterministic seller world for the SP-API sandbox.

Pure Python: everything derives from ``random.Random`` seeded by strings built from the world
seed and from times *relative to the world's start*, so the same seed always yields the same
catalog, orders, returns, inbound shipments and ledger (settlements every 14 days, financial
events) relative to its start, byte for byte. The start is a fixed instant (tests, ``--start``)
or, by default, the present: midnight UTC of today's date, read once from the wall clock
(``present_start``). History reaches back ``history_days`` (120: more than every flow's default
window, e.g. the 89-day settlement lookback) and forward ``future_days``.

Times are epoch seconds (``int``) internally; money is ``Decimal`` rounded per currency.
Orders carry a timeline (purchase, pending until, item ship times, cancellation, returns),
so what the API shows depends on the simulated "now" the caller passes in.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property

from .money import ZERO, parse_time, quantize

# --- Credentials the sandbox accepts (``manage.py demo`` creates an account with these) ----

DEFAULT_SELLER = "A1SANDBOXSELLER"
DEFAULT_SELLER_NAME = "Sandbox Seller"
DEFAULT_REGION = "NA"
LWA_CLIENT_ID = "amzn1.application-oa2-client.sandbox"
LWA_CLIENT_SECRET = "sandbox-client-secret"
REFRESH_TOKEN = "Atzr|sandbox-refresh-token"
# Accepted by nobody: the hostile profile (and ``POST /_sandbox/revoke``) model revocation.
REVOKED_REFRESH_TOKEN = "Atzr|sandbox-revoked-refresh-token"
# A fixed start for reproducible tests; the sandbox's default is the present.
DEFAULT_START = "2026-11-01T00:00:00Z"
DEFAULT_SEED = 1
DEFAULT_ORDERS = 2000

HOUR = 3600
DAY = 86400
SETTLEMENT_DAYS = 14
# Settlement periods are counted from the world start: the last one before the start closed
# this long before it (its report exists a day later).
SETTLEMENT_CLOSE_BEFORE_START = 10 * DAY


def present_start(now: float | None = None) -> int:
    """The start of a world that lives in the present: midnight UTC of today's date."""
    now = time.time() if now is None else now
    return int(now) // DAY * DAY


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
_MP_WEIGHTS = (("US", 45), ("UK", 20), ("DE", 15), ("CA", 10), ("JP", 10))

# Amazon's accepted carrier codes (a representative subset of the published list).
CARRIER_CODES = (
    "UPS", "USPS", "FedEx", "DHL", "DHL Express", "Royal Mail", "Parcelforce", "Deutsche Post",
    "DPD", "Hermes", "GLS", "Japan Post", "Yamato", "Yamato Transport", "Sagawa",
    "Sagawa Express", "Canada Post", "Purolator", "Amazon Shipping", "OnTrac", "Other",
)

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NOUNS = ("Mug", "Lamp", "Backpack", "Notebook", "Water Bottle", "Desk Mat", "Headphones",
          "Charger", "Candle", "Tea Towel", "Cutting Board", "Yoga Mat", "Phone Case",
          "Travel Pillow", "Bike Light", "Plant Pot", "Wall Clock", "Thermos", "Tote Bag")
_ADJ = ("Classic", "Eco", "Compact", "Deluxe", "Nordic", "Urban", "Pro", "Mini", "Bamboo",
        "Vintage", "Smart", "Everyday")
_PRODUCT_TYPES = ("HOME", "KITCHEN", "LUGGAGE", "OFFICE_PRODUCTS", "SPORTING_GOODS",
                  "ELECTRONIC_ACCESSORY")
_SIZES = ("Small", "Medium", "Large")
_COLORS = ("Black", "White", "Blue", "Green")
_FBA_FEE_USD = {"small": Decimal("3.22"), "standard": Decimal("4.75"), "large": Decimal("6.85")}
_SHIPPING_USD = Decimal("4.99")
_FBA_RETURN_REASONS = ("UNWANTED_ITEM", "DEFECTIVE", "NOT_AS_DESCRIBED", "ORDERED_WRONG_ITEM",
                       "FOUND_BETTER_PRICE", "DAMAGED_BY_CARRIER", "SWITCHEROO",
                       "NO_REASON_GIVEN")
_DISPOSITIONS = ("SELLABLE", "SELLABLE", "SELLABLE", "CUSTOMER_DAMAGED", "DEFECTIVE",
                 "CARRIER_DAMAGED", "DAMAGED")
_MFN_RETURN_REASONS = ("AMZ-PG-APP-TOO-SMALL", "AMZ-PG-BAD-DESC", "AMZ-PG-DEFECTIVE",
                       "CR-UNWANTED_ITEM", "CR-ORDERED_WRONG_ITEM", "CR-DAMAGED_BY_CARRIER")
_COMMENTS = ("", "", "Did not fit", "Arrived scratched", "Changed my mind",
             "Not as pictured", "Stopped working after a week")


def _code(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(length))


def _digest(*parts: object) -> int:
    text = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


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

    def total(self) -> Decimal:
        from .reports import settlement_rows

        return sum((Decimal(r["amount"]) for r in settlement_rows(self)[1:]), ZERO)


class World:
    """The seller's world for one seed. Build once, query at any simulated instant."""

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        *,
        orders: int = DEFAULT_ORDERS,
        start: str | int | None = None,
        history_days: int = 120,
        future_days: int = 60,
        seller_id: str = DEFAULT_SELLER,
        products: int | None = None,
    ) -> None:
        self.seed = seed
        self.order_count = orders
        self.present = start is None  # lives in the present: its sandbox's now is the wall clock
        if start is None:
            start = present_start()
        self.start = parse_time(start) if isinstance(start, str) else int(start)
        self.settlement_anchor = self.start - SETTLEMENT_CLOSE_BEFORE_START
        self.window_start = self.start - history_days * DAY
        self.window_end = self.start + future_days * DAY
        self.seller_id = seller_id
        self.product_count = products or max(40, min(400, orders // 50))

    # ------------------------------------------------------------------ catalog
    def _rng(self, *parts: object) -> random.Random:
        return random.Random("/".join(str(p) for p in (self.seed, *parts)))

    @cached_property
    def products(self) -> dict[str, Product]:
        rng = self._rng("catalog")
        out: dict[str, Product] = {}
        used_asins: set[str] = set()

        def asin() -> str:
            while True:
                value = "B0" + _code(rng, 8)
                if value not in used_asins:
                    used_asins.add(value)
                    return value

        def channels() -> dict[str, str]:
            chosen = {"US": "AFN" if rng.random() < 0.6 else "MFN"}
            for code, share in (("CA", 0.5), ("UK", 0.6), ("DE", 0.5), ("JP", 0.35)):
                if rng.random() < share:
                    # Mostly the same channel everywhere; sometimes FBA here, MFN there.
                    same = rng.random() < 0.75
                    flip = "MFN" if chosen["US"] == "AFN" else "AFN"
                    chosen[code] = chosen["US"] if same else flip
            return chosen

        i = 0
        simple: list[Product] = []
        while len(out) < self.product_count:
            i += 1
            title = f"{rng.choice(_ADJ)} {rng.choice(_NOUNS)}"
            roll = rng.random()
            created = self.window_start - rng.randrange(30, 400) * DAY
            if roll < 0.12 and len(out) + 3 <= self.product_count:
                parent = Product(
                    sku=f"SBX-{i:04d}-P", asin=asin(), fnsku=None, title=title,
                    product_type="SHIRT" if rng.random() < 0.5 else "HOME", kind="parent",
                    usd_cents=0, size_tier="standard", channels=channels(), created=created,
                )
                out[parent.sku] = parent
                cents = rng.randrange(1299, 4999)
                for n, (size, color) in enumerate(
                    rng.sample([(s, c) for s in _SIZES for c in _COLORS], rng.randint(2, 3))
                ):
                    child = Product(
                        sku=f"SBX-{i:04d}-{n + 1}", asin=asin(), fnsku="X00" + _code(rng, 7),
                        title=f"{title}, {color}, {size}", product_type=parent.product_type,
                        kind="child", usd_cents=cents + 100 * n, size_tier="standard",
                        channels=dict(parent.channels), created=created, parent_sku=parent.sku,
                        variation={"size": size, "color": color},
                        mfn_quantity=rng.randrange(0, 80),
                    )
                    parent.children.append(child.sku)
                    out[child.sku] = child
                continue
            if roll < 0.20 and len(simple) >= 3:
                parts = rng.sample(simple, 2)
                kit = Product(
                    sku=f"KIT-{i:04d}", asin=asin(), fnsku="X00" + _code(rng, 7),
                    title=f"{title} Bundle", product_type=parts[0].product_type, kind="kit",
                    usd_cents=sum(p.usd_cents for p in parts) * 9 // 10, size_tier="large",
                    channels=channels(), created=created,
                    components=[(parts[0].sku, 1), (parts[1].sku, rng.randint(1, 2))],
                    mfn_quantity=rng.randrange(0, 40),
                )
                out[kit.sku] = kit
                continue
            product = Product(
                sku=f"SBX-{i:04d}", asin=asin(), fnsku="X00" + _code(rng, 7), title=title,
                product_type=rng.choice(_PRODUCT_TYPES), kind="simple",
                usd_cents=rng.randrange(599, 8999), size_tier=rng.choice(tuple(_FBA_FEE_USD)),
                channels=channels(), created=created, mfn_quantity=rng.randrange(0, 120),
            )
            out[product.sku] = product
            simple.append(product)
        return out

    @cached_property
    def sellable_by_mp(self) -> dict[str, list[Product]]:
        by_mp: dict[str, list[Product]] = {code: [] for code in MARKETPLACES}
        for product in self.products.values():
            if product.sellable:
                for code in product.channels:
                    by_mp[code].append(product)
        return by_mp

    def listings(self, mp_code: str | None = None) -> list[tuple[Product, Marketplace, str]]:
        """(product, marketplace, channel) for every listing, parents included."""
        out = []
        for product in self.products.values():
            for code, channel in product.channels.items():
                if mp_code is None or code == mp_code:
                    out.append((product, MARKETPLACES[code], channel))
        return out

    def fba_fee(self, product: Product, mp: Marketplace) -> Decimal:
        return quantize(_FBA_FEE_USD[product.size_tier] * mp.fx, mp.currency)

    # ------------------------------------------------------------------ orders
    @cached_property
    def orders(self) -> list[Order]:
        """All orders (including future ones), sorted by purchase time."""
        span = self.window_end - self.window_start
        n = max(1, self.order_count)
        base_rng = self._rng("orders")
        salt = base_rng.randrange(10**7)
        mp_codes = [code for code, weight in _MP_WEIGHTS for _ in range(weight)]
        out = []
        for i in range(n):
            rng = random.Random(f"{self.seed}/order/{i}")
            purchase = self.window_start + int((i + rng.random()) * span / n)
            out.append(self._make_order(i, rng, purchase, rng.choice(mp_codes), salt))
        return out

    @cached_property
    def orders_by_id(self) -> dict[str, Order]:
        return {o.id: o for o in self.orders}

    def _make_order(
        self, i: int, rng: random.Random, purchase: int, mp_code: str, salt: int
    ) -> Order:
        mp = MARKETPLACES[mp_code]
        pool = self.sellable_by_mp[mp_code] or self.sellable_by_mp["US"]
        if not self.sellable_by_mp[mp_code]:
            mp = MARKETPLACES["US"]
        first = rng.choice(pool)
        channel = first.channels[mp.code]
        count = 1 if rng.random() < 0.75 else (2 if rng.random() < 0.7 else 3)
        chosen = [first]
        same_channel = [p for p in pool if p.channels[mp.code] == channel]
        for _ in range(count - 1):
            extra = rng.choice(same_channel)
            if extra not in chosen:
                chosen.append(extra)
        middle = (i * 2654435761 + salt) % 10**7
        order_id = f"{rng.choice(mp.order_prefixes)}-{middle:07d}-{rng.randrange(10**7):07d}"

        is_prime = rng.random() < (0.6 if channel == "AFN" else 0.1)
        premium_roll = rng.random()
        is_premium = premium_roll < 0.08
        category = (
            rng.choice(("NextDay", "SecondDay")) if is_premium
            else ("Expedited" if premium_roll < 0.15 else "Standard")
        )
        is_business = rng.random() < 0.07
        tax_rate = rng.choice(mp.tax_rates)
        promo = rng.random() < 0.15
        promo_id = f"PLM-{_code(rng, 10)}" if promo else None

        pending_for = rng.randrange(120, 4 * HOUR)
        if rng.random() < 0.03:
            pending_for = rng.randrange(12 * HOUR, 2 * DAY)
        pending_until = purchase + pending_for
        cancel = None
        cancel_roll = rng.random()
        if cancel_roll < 0.04:
            cancel = purchase + rng.randrange(600, pending_for + 601)
            pending_until = min(pending_until, cancel)
        elif cancel_roll < 0.05:
            cancel = pending_until + rng.randrange(HOUR, 20 * HOUR)

        historical_mfn = purchase < self.start - 3 * DAY
        shipment_base = _code(rng, 9)
        prefix = "D" if channel == "AFN" else "M"
        items: list[OrderItem] = []
        split = len(chosen) > 1 and rng.random() < 0.3
        first_ship = pending_until + rng.randrange(4 * HOUR, 40 * HOUR)
        never_last = rng.random() < 0.3  # for partial shipments: last item never ships
        shipping_charge = channel == "MFN" and not is_prime and not is_business
        for n, product in enumerate(chosen):
            qty = 1 if rng.random() < 0.8 else (2 if rng.random() < 0.75 else 3)
            unit = product.price(mp)
            if is_business:
                unit = quantize(unit * Decimal("0.95"), mp.currency)
            item_price = unit * qty
            item_tax = quantize(item_price * tax_rate, mp.currency)
            ship_price = ZERO
            if shipping_charge and n == 0:
                ship_price = quantize(_SHIPPING_USD * mp.fx, mp.currency)
                if mp.currency == "JPY":
                    ship_price = Decimal(500)
            ship_tax = quantize(ship_price * tax_rate, mp.currency)
            disc = quantize(item_price * Decimal("0.10"), mp.currency) if promo else ZERO
            disc_tax = quantize(disc * tax_rate, mp.currency)
            ship_time: int | None = None
            if cancel is None:
                offset = n * rng.randrange(6 * HOUR, 3 * DAY) if split else 0
                if channel == "AFN":
                    ship_time = first_ship + offset
                elif historical_mfn:
                    if split and n == len(chosen) - 1 and never_last:
                        ship_time = None
                    else:
                        ship_time = first_ship + 2 * HOUR + offset
            item_id = f"{rng.randrange(10**13, 10**14)}"
            items.append(
                OrderItem(
                    id=item_id, product=product, quantity=qty, unit_price=unit,
                    item_price=item_price, item_tax=item_tax, shipping_price=ship_price,
                    shipping_tax=ship_tax, promotion=disc, promotion_tax=disc_tax,
                    promotion_id=promo_id, ship_time=ship_time,
                    shipment_id=(f"{prefix}{shipment_base}{n if split else 0}"
                                 if ship_time is not None else None),
                )
            )
            if ship_time is not None and rng.random() < 0.06:
                ret_time = ship_time + rng.randrange(3, 30) * DAY + rng.randrange(DAY)
                items[-1].ret = ReturnEvent(
                    time=ret_time,
                    refund_time=ret_time + rng.randrange(2 * HOUR, 2 * DAY),
                    quantity=rng.randint(1, qty),
                    reason=rng.choice(
                        _FBA_RETURN_REASONS if channel == "AFN" else _MFN_RETURN_REASONS
                    ),
                    disposition=rng.choice(_DISPOSITIONS),
                    lpn="LPN" + _code(rng, 10),
                    rma="D" + _code(rng, 8),
                    fc=rng.choice(mp.fcs),
                    comments=rng.choice(_COMMENTS),
                )
        city = rng.choice(mp.cities)
        return Order(
            index=i, id=order_id, mp=mp, channel=channel, purchase=purchase,
            pending_until=pending_until, cancel=cancel, items=items, is_prime=is_prime,
            is_premium=is_premium, is_business=is_business, service_category=category,
            seller_order_id=f"SO-{i + 1:07d}" if channel == "MFN" else None,
            po_number=f"PO-{_code(rng, 6)}" if is_business and rng.random() < 0.5 else None,
            address=city, buyer_email=f"{_code(rng, 14).lower()}@marketplace.amazon.com",
            tax_rate=tax_rate,
        )

    # ------------------------------------------------------------------ inventory / inbound
    @cached_property
    def inbound_shipments(self) -> list[InboundShipment]:
        rng = self._rng("inbound")
        fba = [(p, code) for p in self.products.values() if p.sellable
               for code, ch in p.channels.items() if ch == "AFN"]
        count = max(10, self.order_count // 400)
        span = self.window_end - self.window_start
        codes = sorted({code for _, code in fba}, key=list(MARKETPLACES).index)
        out = []
        for n in range(count):
            created = self.window_start + (n * span) // count + rng.randrange(DAY)
            mp_code = codes[n % len(codes)]
            mp = MARKETPLACES[mp_code]
            candidates = [p for p, code in fba if code == mp_code]
            picked = rng.sample(candidates, min(len(candidates), rng.randint(1, 5)))
            items = []
            for product in picked:
                shipped = rng.randrange(12, 240, 12)
                final = shipped - (rng.randrange(1, 4) if rng.random() < 0.2 else 0)
                items.append((product, shipped, final))
            shipped_at = created + rng.randrange(1, 4) * DAY
            receiving = shipped_at + rng.randrange(3, 8) * DAY
            out.append(
                InboundShipment(
                    id="FBA15" + _code(rng, 7), name=f"Sandbox inbound {n + 1}", mp=mp,
                    fc=rng.choice(mp.fcs), created=created, shipped=shipped_at,
                    receiving=receiving, closed=receiving + rng.randrange(4, 12) * DAY,
                    cancelled=rng.random() < 0.05, items=items,
                )
            )
        return out

    @cached_property
    def fba_inventory(self) -> dict[tuple[str, str], dict[str, int]]:
        """Base FBA quantities per (marketplace code, sku)."""
        rng = self._rng("inventory")
        out = {}
        for product, mp, channel in self.listings():
            if channel != "AFN" or not product.sellable:
                continue
            out[(mp.code, product.sku)] = {
                "fulfillable": rng.randrange(0, 400),
                "reserved_customer": rng.randrange(0, 10),
                "reserved_transship": rng.randrange(0, 6),
                "reserved_fc": rng.randrange(0, 6),
                "researching": rng.randrange(0, 3),
                "customer_damaged": rng.randrange(0, 3),
                "warehouse_damaged": rng.randrange(0, 2),
                "defective": rng.randrange(0, 2),
            }
        return out

    # ------------------------------------------------------------------ ledger / money
    @cached_property
    def ledger(self) -> list[Posting]:
        """Every money movement (order shipments, refunds, fees, reimbursements), by time."""
        out: list[Posting] = []
        for order in self.orders:
            out.extend(self._order_postings(order))
        out.extend(self._account_postings())
        out.sort(key=lambda p: (p.time, p.key))
        return out

    @cached_property
    def ledger_times(self) -> list[int]:
        return [p.time for p in self.ledger]

    def _order_postings(self, order: Order) -> list[Posting]:
        mp, cur = order.mp, order.currency
        by_shipment: dict[tuple[int, str], list[OrderItem]] = {}
        for item in order.items:
            if item.ship_time is not None:
                by_shipment.setdefault((item.ship_time, item.shipment_id or ""), []).append(item)
        out = []
        for (when, shipment_id), items in sorted(by_shipment.items()):
            lines: list[LedgerLine] = []
            for item in items:
                sku, code = item.product.sku, item.id
                lines.append(LedgerLine("ItemPrice", "Principal", item.item_price, code, sku,
                                        str(item.quantity)))
                lines.append(LedgerLine("ItemPrice", "Tax", item.item_tax, code, sku))
                if item.shipping_price:
                    lines.append(LedgerLine("ItemPrice", "Shipping", item.shipping_price, code,
                                            sku))
                    lines.append(LedgerLine("ItemPrice", "ShippingTax", item.shipping_tax, code,
                                            sku))
                if item.promotion:
                    lines.append(LedgerLine("Promotion", "Principal", -item.promotion, code, sku,
                                            promotion_id=item.promotion_id or ""))
                if mp.facilitator_tax:
                    withheld = item.item_tax - item.promotion_tax
                    lines.append(LedgerLine("ItemWithheldTax",
                                            "MarketplaceFacilitatorTax-Principal", -withheld,
                                            code, sku))
                    if item.shipping_tax:
                        lines.append(LedgerLine("ItemWithheldTax",
                                                "MarketplaceFacilitatorTax-Shipping",
                                                -item.shipping_tax, code, sku))
                elif item.promotion_tax:
                    lines.append(LedgerLine("Promotion", "Tax", -item.promotion_tax, code, sku,
                                            promotion_id=item.promotion_id or ""))
                lines.append(LedgerLine("ItemFees", "Commission", -self.commission(item, mp),
                                        code, sku))
                if order.channel == "AFN":
                    fee = self.fba_fee(item.product, mp) * item.quantity
                    lines.append(LedgerLine("ItemFees", "FBAPerUnitFulfillmentFee", -fee, code,
                                            sku))
            out.append(Posting(when, mp, "Order", lines, order=order, shipment_id=shipment_id,
                               key=f"{order.id}/{shipment_id}"))
        for item in order.items:
            ret = item.ret
            if ret is None:
                continue
            ratio = Decimal(ret.quantity) / item.quantity
            principal = quantize(item.item_price * ratio, cur)
            tax = quantize(item.item_tax * ratio, cur)
            commission = quantize(self.commission(item, mp) * ratio, cur)
            admin = min(quantize(commission * Decimal("0.20"), cur),
                        quantize(Decimal(5) * mp.fx, cur))
            code, sku = item.id, item.product.sku
            lines = [
                LedgerLine("ItemPrice", "Principal", -principal, code, sku, str(ret.quantity)),
                LedgerLine("ItemPrice", "Tax", -tax, code, sku),
                LedgerLine("ItemFees", "Commission", commission, code, sku),
                LedgerLine("ItemFees", "RefundCommission", -admin, code, sku),
            ]
            if mp.facilitator_tax:
                lines.append(LedgerLine("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal",
                                        tax, code, sku))
            out.append(Posting(ret.refund_time, mp, "Refund", lines, order=order,
                               adjustment_id=f"amzn1:crow:{ret.rma}",
                               key=f"{order.id}/refund/{item.id}"))
        return out

    def commission(self, item: OrderItem, mp: Marketplace) -> Decimal:
        fee = quantize(item.item_price * Decimal("0.15"), mp.currency)
        return max(fee, quantize(Decimal("0.30") * mp.fx, mp.currency))

    def settlement_period(self, ts: int) -> int:
        return (ts - self.settlement_anchor) // (SETTLEMENT_DAYS * DAY)

    def period_bounds(self, period: int) -> tuple[int, int]:
        start = self.settlement_anchor + period * SETTLEMENT_DAYS * DAY
        return start, start + SETTLEMENT_DAYS * DAY

    def _periods(self) -> range:
        return range(self.settlement_period(self.window_start),
                     self.settlement_period(self.window_end) + 1)

    def _account_postings(self) -> list[Posting]:
        out = []
        fba_by_mp: dict[str, list[Product]] = {}
        for product, mp, channel in self.listings():
            if channel == "AFN" and product.sellable:
                fba_by_mp.setdefault(mp.code, []).append(product)
        for period in self._periods():
            start, end = self.period_bounds(period)
            for mp in MARKETPLACES.values():
                rng = self._rng("account", period, mp.code)
                cur = mp.currency
                storage = quantize(Decimal(rng.randrange(2000, 9000)) / 100 * mp.fx, cur)
                out.append(Posting(start + 7 * DAY, mp, "Storage Fee", [
                    LedgerLine("other-transaction", "Storage Fee", -storage)],
                    key=f"storage/{period}/{mp.code}"))
                if any(_day_of_month(start + d * DAY) == 1 for d in range(SETTLEMENT_DAYS)):
                    fee = quantize(Decimal("39.99") * mp.fx, cur)
                    out.append(Posting(start + DAY, mp, "Subscription Fee", [
                        LedgerLine("other-transaction", "Subscription Fee", -fee)],
                        key=f"subscription/{period}/{mp.code}"))
                products = fba_by_mp.get(mp.code) or []
                for n in range(rng.randrange(0, 3) if products else 0):
                    product = rng.choice(products)
                    qty = rng.randint(1, 3)
                    amount = quantize(product.price(mp) * Decimal("0.6") * qty, cur)
                    reason = rng.choice(("WAREHOUSE_DAMAGE", "WAREHOUSE_LOST",
                                         "REVERSAL_REIMBURSEMENT", "CUSTOMER_RETURN"))
                    out.append(Posting(
                        start + rng.randrange(DAY, (SETTLEMENT_DAYS - 1) * DAY), mp,
                        "other-transaction",
                        [LedgerLine("FBA Inventory Reimbursement", reason, amount, "",
                                    product.sku, str(qty))],
                        adjustment_id=f"{_digest(self.seed, period, mp.code, n) % 10**10:010d}",
                        key=f"reimb/{period}/{mp.code}/{n}"))
        return out

    @cached_property
    def _postings_by_settlement(self) -> dict[tuple[str, int], list[Posting]]:
        grouped: dict[tuple[str, int], list[Posting]] = {}
        for posting in self.ledger:
            grouped.setdefault((posting.mp.code, self.settlement_period(posting.time)),
                               []).append(posting)
        return grouped

    def _reserve(self, mp: Marketplace, period: int) -> Decimal:
        sales = sum(
            (line.amount for p in self._postings_by_settlement.get((mp.code, period), [])
             if p.transaction_type == "Order" for line in p.lines
             if line.amount_type == "ItemPrice" and line.description == "Principal"),
            ZERO,
        )
        return quantize(sales * Decimal("0.03"), mp.currency)

    def settlement(self, mp_code: str, period: int) -> Settlement:
        mp = MARKETPLACES[mp_code]
        start, end = self.period_bounds(period)
        return Settlement(
            id=str(10_000_000_000 + _digest(self.seed, "settlement", mp.code, period)
                   % 90_000_000_000),
            mp=mp, period=period, start=start, end=end, deposit=end + 3 * DAY,
            postings=self._postings_by_settlement.get((mp.code, period), []),
            reserve_previous=self._reserve(mp, period - 1),
            reserve_current=self._reserve(mp, period),
        )

    def settlements(self, now: int | None = None) -> list[Settlement]:
        """Closed settlements whose report exists at ``now`` (default: the world start)."""
        now = self.start if now is None else now
        out = []
        for period in self._periods():
            start, end = self.period_bounds(period)
            if end + DAY > now or end <= self.window_start:
                continue
            for code in MARKETPLACES:
                out.append(self.settlement(code, period))
        return out

    # ------------------------------------------------------------------ report files
    def settlement_report_bytes(self, settlement: Settlement | str) -> bytes:
        """The GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2 document for one settlement."""
        from .reports import settlement_bytes

        if isinstance(settlement, str):
            found = [s for s in self.settlements(self.window_end + 30 * DAY)
                     if s.id == settlement]
            if not found:
                raise KeyError(settlement)
            settlement = found[0]
        return settlement_bytes(settlement)

    def all_orders_report_bytes(self, start: int, end: int, now: int,
                                marketplace_ids: list[str] | None = None) -> bytes:
        from .reports import all_orders_bytes

        return all_orders_bytes(self, start, end, now, marketplace_ids)

    def fba_returns_report_bytes(self, start: int, end: int, now: int,
                                 marketplace_ids: list[str] | None = None) -> bytes:
        from .reports import fba_returns_bytes

        return fba_returns_bytes(self, start, end, now, marketplace_ids)

    def mfn_returns_report_bytes(self, start: int, end: int, now: int,
                                 marketplace_ids: list[str] | None = None) -> bytes:
        from .reports import mfn_returns_bytes

        return mfn_returns_bytes(self, start, end, now, marketplace_ids)


def _day_of_month(ts: int) -> int:
    return datetime.fromtimestamp(ts, UTC).day


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
