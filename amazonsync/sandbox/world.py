"""A deterministic seller world for the SP-API sandbox: catalog, orders, inbound, inventory.

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

Where things are: the data shapes (``Order``, ``Settlement``...) and ``order_state`` in
``shapes.py``; the money (postings, settlements) in ``ledger.py``; this module generates the
rest and is the one object the sandbox holds. Rendering lives elsewhere and reads the world:
JSON in ``serializers.py``, flat-file reports in ``reports.py``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from .ledger import (
    SETTLEMENT_CLOSE_BEFORE_START,
    SettlementCalendar,
    account_postings,
    make_settlement,
    order_postings,
)
from .money import ZERO, parse_time, quantize
from .shapes import (
    DAY,
    FBA_FEE_USD,
    HOUR,
    MARKETPLACES,
    InboundShipment,
    Marketplace,
    Order,
    OrderItem,
    Posting,
    Product,
    ReturnEvent,
    Settlement,
)

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


def present_start(now: float | None = None) -> int:
    """The start of a world that lives in the present: midnight UTC of today's date."""
    now = time.time() if now is None else now
    return int(now) // DAY * DAY


_MP_WEIGHTS = (("US", 45), ("UK", 20), ("DE", 15), ("CA", 10), ("JP", 10))
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
        self.calendar = SettlementCalendar(self.start - SETTLEMENT_CLOSE_BEFORE_START)
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
                usd_cents=rng.randrange(599, 8999), size_tier=rng.choice(tuple(FBA_FEE_USD)),
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
        """Order ``i``: products, id, checkout terms, timeline, items, then the buyer.

        Each step draws from ``rng`` in turn: moving a step, or a draw inside one, changes
        every order of every seed (and so the worlds that tests and demos rely on).
        """
        mp, channel, chosen = self._order_products(rng, mp_code)
        middle = (i * 2654435761 + salt) % 10**7
        order_id = f"{rng.choice(mp.order_prefixes)}-{middle:07d}-{rng.randrange(10**7):07d}"
        terms = _checkout_terms(rng, mp, channel)
        pending_until, cancel = _order_timeline(rng, purchase)
        items = self._order_items(rng, mp, channel, chosen, terms,
                                  purchase=purchase, pending_until=pending_until, cancel=cancel)
        city = rng.choice(mp.cities)
        return Order(
            index=i, id=order_id, mp=mp, channel=channel, purchase=purchase,
            pending_until=pending_until, cancel=cancel, items=items, is_prime=terms.is_prime,
            is_premium=terms.is_premium, is_business=terms.is_business,
            service_category=terms.category,
            seller_order_id=f"SO-{i + 1:07d}" if channel == "MFN" else None,
            po_number=(f"PO-{_code(rng, 6)}" if terms.is_business and rng.random() < 0.5
                       else None),
            address=city, buyer_email=f"{_code(rng, 14).lower()}@marketplace.amazon.com",
            tax_rate=terms.tax_rate,
        )

    def _order_products(self, rng: random.Random,
                        mp_code: str) -> tuple[Marketplace, str, list[Product]]:
        """The marketplace (the US when ``mp_code`` sells nothing), the channel of the first
        product drawn, and one to three distinct products sold on that channel."""
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
        return mp, channel, chosen

    def _order_items(
        self, rng: random.Random, mp: Marketplace, channel: str, chosen: list[Product],
        terms: _Terms, *, purchase: int, pending_until: int, cancel: int | None,
    ) -> list[OrderItem]:
        """The items: quantity and money, when each ships, and now and then a return.

        FBA items ship by themselves; merchant items of orders more than 3 days before the
        start were shipped by the seller, newer ones wait for ``confirmShipment``. A split
        order ships its items apart, and its last merchant item may never ship.
        """
        historical_mfn = purchase < self.start - 3 * DAY
        shipment_base = _code(rng, 9)
        prefix = "D" if channel == "AFN" else "M"
        split = len(chosen) > 1 and rng.random() < 0.3
        first_ship = pending_until + rng.randrange(4 * HOUR, 40 * HOUR)
        never_last = rng.random() < 0.3  # for partial shipments: last item never ships
        charge_shipping = channel == "MFN" and not terms.is_prime and not terms.is_business
        items: list[OrderItem] = []
        for n, product in enumerate(chosen):
            qty = 1 if rng.random() < 0.8 else (2 if rng.random() < 0.75 else 3)
            money = _item_money(product, qty, mp, terms, charge_shipping=charge_shipping and n == 0)
            ship_time: int | None = None
            if cancel is None:
                offset = n * rng.randrange(6 * HOUR, 3 * DAY) if split else 0
                if channel == "AFN":
                    ship_time = first_ship + offset
                elif historical_mfn and not (split and n == len(chosen) - 1 and never_last):
                    ship_time = first_ship + 2 * HOUR + offset
            item = OrderItem(
                id=f"{rng.randrange(10**13, 10**14)}", product=product, quantity=qty,
                promotion_id=terms.promo_id, ship_time=ship_time,
                shipment_id=(f"{prefix}{shipment_base}{n if split else 0}"
                             if ship_time is not None else None),
                **money,
            )
            if ship_time is not None and rng.random() < 0.06:
                item.ret = _item_return(rng, mp, channel, ship_time, qty)
            items.append(item)
        return items

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

    # ------------------------------------------------------------------ money (ledger.py)
    @cached_property
    def ledger(self) -> list[Posting]:
        """Every money movement (order shipments, refunds, fees, reimbursements), by time."""
        out: list[Posting] = []
        for order in self.orders:
            out.extend(order_postings(order))
        out.extend(account_postings(self.calendar, self._periods(), self._fba_by_mp(),
                                    seed=self.seed, rng=self._rng))
        out.sort(key=lambda p: (p.time, p.key))
        return out

    @cached_property
    def ledger_times(self) -> list[int]:
        return [p.time for p in self.ledger]

    def _fba_by_mp(self) -> dict[str, list[Product]]:
        """Sellable FBA products per marketplace code (what reimbursements are paid for)."""
        out: dict[str, list[Product]] = {}
        for product, mp, channel in self.listings():
            if channel == "AFN" and product.sellable:
                out.setdefault(mp.code, []).append(product)
        return out

    def _periods(self) -> range:
        return self.calendar.periods(self.window_start, self.window_end)

    @cached_property
    def _postings_by_settlement(self) -> dict[tuple[str, int], list[Posting]]:
        grouped: dict[tuple[str, int], list[Posting]] = {}
        for posting in self.ledger:
            grouped.setdefault((posting.mp.code, self.calendar.period(posting.time)),
                               []).append(posting)
        return grouped

    def settlement(self, mp_code: str, period: int) -> Settlement:
        return make_settlement(self.calendar, MARKETPLACES[mp_code], period,
                               self._postings_by_settlement, seed=self.seed)

    def settlements(self, now: int | None = None) -> list[Settlement]:
        """Closed settlements whose report exists at ``now`` (default: the world start)."""
        now = self.start if now is None else now
        out = []
        for period in self._periods():
            start, end = self.calendar.bounds(period)
            if end + DAY > now or end <= self.window_start:
                continue
            for code in MARKETPLACES:
                out.append(self.settlement(code, period))
        return out


# ---------------------------------------------------------------------------- order steps


@dataclass(frozen=True)
class _Terms:
    """What the buyer chose at checkout, drawn once per order."""

    is_prime: bool
    is_premium: bool
    category: str  # Standard | Expedited | NextDay | SecondDay
    is_business: bool
    tax_rate: Decimal
    promo_id: str | None  # a 10 % promotion on every item, or none


def _checkout_terms(rng: random.Random, mp: Marketplace, channel: str) -> _Terms:
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
    return _Terms(is_prime, is_premium, category, is_business, tax_rate, promo_id)


def _order_timeline(rng: random.Random, purchase: int) -> tuple[int, int | None]:
    """(pending until, cancellation time or None): 4 % cancelled while pending, 1 % after."""
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
    return pending_until, cancel


def _item_money(product: Product, qty: int, mp: Marketplace, terms: _Terms, *,
                charge_shipping: bool) -> dict[str, Decimal]:
    """The money fields of one ``OrderItem``: prices, tax, shipping, promotion."""
    cur = mp.currency
    unit = product.price(mp)
    if terms.is_business:
        unit = quantize(unit * Decimal("0.95"), cur)
    item_price = unit * qty
    ship_price = ZERO
    if charge_shipping:
        ship_price = quantize(_SHIPPING_USD * mp.fx, cur)
        if cur == "JPY":
            ship_price = Decimal(500)
    disc = quantize(item_price * Decimal("0.10"), cur) if terms.promo_id else ZERO
    return {
        "unit_price": unit, "item_price": item_price,
        "item_tax": quantize(item_price * terms.tax_rate, cur),
        "shipping_price": ship_price, "shipping_tax": quantize(ship_price * terms.tax_rate, cur),
        "promotion": disc, "promotion_tax": quantize(disc * terms.tax_rate, cur),
    }


def _item_return(rng: random.Random, mp: Marketplace, channel: str, ship_time: int,
                 qty: int) -> ReturnEvent:
    ret_time = ship_time + rng.randrange(3, 30) * DAY + rng.randrange(DAY)
    return ReturnEvent(
        time=ret_time,
        refund_time=ret_time + rng.randrange(2 * HOUR, 2 * DAY),
        quantity=rng.randint(1, qty),
        reason=rng.choice(_FBA_RETURN_REASONS if channel == "AFN" else _MFN_RETURN_REASONS),
        disposition=rng.choice(_DISPOSITIONS),
        lpn="LPN" + _code(rng, 10),
        rma="D" + _code(rng, 8),
        fc=rng.choice(mp.fcs),
        comments=rng.choice(_COMMENTS),
    )
