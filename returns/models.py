"""Returns and refunds: every unit that comes back is in stock, written off or claimed.

``ReturnEvent`` is one row of Amazon's FBA customer returns report or of the MFN returns
report, keyed on its natural key. ``DispositionRule`` says what a disposition does to stock;
``InventoryAdjustment`` is that rule applied, at most once per return (a OneToOne). Refund
matching pairs settlement refund lines with returns per (order, SKU) in ``RefundMatch``;
``ReimbursementCandidate`` is what may be claimed from Amazon; ``CreditMemo`` is the
customer credit per refunded order line, exported to the ERP.

Business rules live in the services package (one module per topic); the database enforces
the invariants.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from amazonsync.money import display as money_display

MONEY = {"max_digits": 18, "decimal_places": 4}


class Channel(models.TextChoices):
    FBA = "FBA", "Fulfilled by Amazon"
    MFN = "MFN", "Merchant fulfilled"


class Action(models.TextChoices):
    SELLABLE = "sellable", "Back to sellable stock"
    QUARANTINE = "quarantine", "To quarantine (unfulfillable)"
    WRITE_OFF = "write_off", "Write off"
    NONE = "none", "No stock effect"


class DispositionRule(models.Model):
    """Disposition (optionally narrowed by channel and reason) -> what happens to the unit.

    The most specific active rule wins: channel and reason both set, then reason, then
    channel, then the disposition alone.
    """

    disposition = models.CharField(
        max_length=64, help_text="Amazon's detailed disposition code, e.g. CUSTOMER_DAMAGED.")
    channel = models.CharField(max_length=3, choices=Channel.choices, blank=True,
                               help_text="Empty: returns of both channels.")
    reason = models.CharField("return reason", max_length=64, blank=True,
                              help_text="Amazon's return reason code, e.g. SWITCHEROO. "
                              "Empty: any reason.")
    action = models.CharField("what happens to the unit", max_length=16,
                              choices=Action.choices)
    amazon_fault = models.BooleanField(
        "Amazon's fault", default=False,
        help_text="Unsellable by Amazon's (or its carrier's) fault: FBA returns become "
        "reimbursement candidates.",
    )
    active = models.BooleanField(default=True, help_text="Inactive rules are ignored.")
    note = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["disposition", "channel", "reason"]
        verbose_name = "disposition rule"
        constraints = [
            models.UniqueConstraint(fields=["disposition", "channel", "reason"],
                                    name="uniq_disposition_rule"),
            models.CheckConstraint(
                condition=Q(action__in=["sellable", "quarantine", "write_off", "none"]),
                name="disposition_rule_action_known",
            ),
            models.CheckConstraint(condition=~Q(disposition=""),
                                   name="disposition_rule_has_disposition"),
        ]

    def __str__(self) -> str:
        scope = " · ".join(p for p in (self.channel, self.reason) if p)
        return f"{self.disposition}{f' ({scope})' if scope else ''} → {self.get_action_display()}"


class RefundOutcome(models.TextChoices):
    REFUNDED_RETURNED = "refunded_returned", "Refunded and returned"
    AWAITING_RETURN = "awaiting_return", "Refunded, return not yet due"
    REFUNDED_NOT_RETURNED = "refunded_not_returned", "Refunded but not returned (45 days)"
    RETURNED_NOT_REFUNDED = "returned_not_refunded", "Returned but not refunded"


class RefundMatch(models.Model):
    """Refunds and returns of one (account, order, SKU), and what they add up to."""

    account = models.ForeignKey("marketplaces.SellerAccount", on_delete=models.CASCADE,
                                related_name="+", verbose_name="seller account")
    marketplace = models.ForeignKey("marketplaces.Marketplace", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    order_id = models.CharField("order id", max_length=32)
    seller_sku = models.CharField("SKU", max_length=64)
    channel = models.CharField(max_length=3, choices=Channel.choices, blank=True)
    refund_lines = models.ManyToManyField("settlements.SettlementLine", blank=True,
                                          related_name="+", verbose_name="refund lines")
    refunded_amount = models.DecimalField(
        "refunded", **MONEY, default=0, help_text="Principal refunded to the buyer.")
    currency = models.CharField(max_length=3, blank=True)
    refunded_quantity = models.PositiveIntegerField("units refunded", default=0)
    refunded_at = models.DateTimeField("first refunded", null=True, blank=True,
                                       help_text="When the first refund was posted.")
    returned_quantity = models.PositiveIntegerField("units returned", default=0)
    returned_at = models.DateTimeField("first returned", null=True, blank=True,
                                       help_text="When the first unit came back.")
    outcome = models.CharField(max_length=32, choices=RefundOutcome.choices, db_index=True)
    follow_up = models.BooleanField(
        "ask the buyer", default=False,
        help_text="Merchant fulfilled, refunded and not returned after 45 days: contact the "
        "buyer.",
    )
    matched_at = models.DateTimeField("matched")

    class Meta:
        ordering = ["-matched_at", "-id"]
        verbose_name = "refund match"
        verbose_name_plural = "refund matches"
        constraints = [
            models.UniqueConstraint(fields=["account", "order_id", "seller_sku"],
                                    name="uniq_refund_match"),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0),
                                   name="refund_match_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} · {self.seller_sku}: {self.get_outcome_display()}"

    @property
    def refund_latency(self):
        if self.refunded_at is None or self.returned_at is None:
            return None
        return self.refunded_at - self.returned_at


class ReturnEvent(models.Model):
    """One returned unit line, FBA or MFN, keyed on Amazon's natural key.

    ``reference`` is the license plate number (FBA) or the return request (RMA) id (MFN).
    A status that changes later updates the same row.
    """

    account = models.ForeignKey("marketplaces.SellerAccount", on_delete=models.CASCADE,
                                related_name="returns", verbose_name="seller account")
    marketplace = models.ForeignKey("marketplaces.Marketplace", on_delete=models.PROTECT,
                                    related_name="+")
    channel = models.CharField(max_length=3, choices=Channel.choices)
    order_id = models.CharField("order id", max_length=32)
    seller_sku = models.CharField("SKU", max_length=64)
    linked_order = models.ForeignKey("orders.Order", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="returns",
                                     verbose_name="order",
                                     help_text="Linked when we have the order.")
    order_line = models.ForeignKey("orders.OrderLine", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="returns",
                                   verbose_name="order line")
    reference = models.CharField(max_length=64, blank=True,
                                 help_text="The LPN (FBA) or the RMA id (merchant fulfilled).")
    return_date = models.DateTimeField("returned", db_index=True)
    disposition = models.CharField(
        max_length=64, blank=True,
        help_text="The unit's state as Amazon reported it (empty for merchant-fulfilled "
        "returns until inspected).",
    )
    graded_disposition = models.CharField(
        "disposition found on inspection", max_length=64, blank=True,
        help_text="Set by ops after inspecting a merchant-fulfilled return; it replaces "
        "the reported one.",
    )
    listing = models.ForeignKey("catalog.Listing", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    item = models.ForeignKey("catalog.Item", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    asin = models.CharField("ASIN", max_length=10, blank=True)
    fnsku = models.CharField("FNSKU", max_length=10, blank=True,
                             help_text="Amazon's fulfilment barcode of the unit.")
    product_name = models.CharField(max_length=500, blank=True)
    quantity = models.PositiveIntegerField("units")
    reason = models.CharField("return reason", max_length=64, blank=True, db_index=True,
                              help_text="Amazon's return reason code.")
    customer_comment = models.TextField("buyer's comment", blank=True)
    status = models.CharField("Amazon's status", max_length=64, blank=True)
    fulfillment_center = models.CharField("fulfilment centre", max_length=16, blank=True)
    license_plate_number = models.CharField(
        "LPN", max_length=64, blank=True,
        help_text="License plate number: Amazon's id of the returned unit.")
    rma_id = models.CharField("RMA id", max_length=64, blank=True,
                              help_text="The return request's id (merchant fulfilled).")
    received_at = models.DateField("received", null=True, blank=True,
                                   help_text="Merchant fulfilled: the day the return reached "
                                   "us.")
    currency = models.CharField(max_length=3, blank=True)
    refunded_amount = models.DecimalField(
        "refunded", **MONEY, null=True, blank=True,
        help_text="As the merchant-fulfilled returns report states it.")
    refund_match = models.ForeignKey(RefundMatch, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="returns",
                                     verbose_name="refund match")
    raw = models.JSONField("report row", default=dict, blank=True,
                           help_text="The report row as it was read.")
    report_type = models.CharField(max_length=64)
    source = models.CharField(max_length=255, blank=True,
                              help_text="The file or report document it came from.")
    created_at = models.DateTimeField("first imported", auto_now_add=True)
    updated_at = models.DateTimeField("last updated", auto_now=True)

    class Meta:
        ordering = ["-return_date", "-id"]
        verbose_name = "return"
        verbose_name_plural = "returns"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "order_id", "seller_sku", "reference", "return_date",
                        "disposition"],
                name="uniq_return_natural_key",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1),
                                   name="return_quantity_positive"),
            models.CheckConstraint(condition=Q(channel__in=["FBA", "MFN"]),
                                   name="return_channel_known"),
            models.CheckConstraint(
                condition=Q(refunded_amount__isnull=True) | ~Q(currency=""),
                name="return_amount_has_currency",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "order_id", "seller_sku"]),
            models.Index(fields=["license_plate_number"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} return {self.order_id} · {self.seller_sku} × {self.quantity}"

    @property
    def effective_disposition(self) -> str:
        return self.graded_disposition or self.disposition


class Pool(models.TextChoices):
    FBA_FULFILLABLE = "fba_fulfillable", "FBA fulfillable"
    FBA_UNFULFILLABLE = "fba_unfulfillable", "FBA unfulfillable"
    MERCHANT_ON_HAND = "merchant_on_hand", "Merchant stock on hand"
    MERCHANT_QUARANTINE = "merchant_quarantine", "Merchant quarantine (not sellable)"
    NONE = "none", "No pool"


class InventoryAdjustment(models.Model):
    """A return's disposition rule applied to stock: one per return, never twice."""

    return_event = models.OneToOneField(ReturnEvent, on_delete=models.PROTECT,
                                        related_name="adjustment", verbose_name="return")
    rule = models.ForeignKey(DispositionRule, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+",
                             verbose_name="disposition rule")
    disposition = models.CharField(max_length=64)
    action = models.CharField(max_length=16, choices=Action.choices)
    pool = models.CharField("stock", max_length=24, choices=Pool.choices)
    quantity = models.IntegerField("units",
                                   help_text="Units added to the stock (0: no stock effect).")
    listing = models.ForeignKey("catalog.Listing", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    item = models.ForeignKey("catalog.Item", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    detail = models.JSONField("stock changed", default=dict, blank=True,
                              help_text="The stock rows changed, before and after.")
    applied_at = models.DateTimeField("applied")
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   help_text="Empty: applied by the sync.")

    class Meta:
        ordering = ["-applied_at", "-id"]
        verbose_name = "stock adjustment"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0),
                                   name="adjustment_quantity_not_negative"),
            models.CheckConstraint(
                condition=Q(pool="none", quantity=0) | ~Q(pool="none"),
                name="adjustment_no_pool_no_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.quantity} → {self.get_pool_display()}"


class ReimbursementCandidate(models.Model):
    """Something Amazon may owe us, open until a reimbursement line closes it."""

    class Kind(models.TextChoices):
        REFUNDED_NOT_RETURNED = "refunded_not_returned", "Refunded, not returned in 45 days"
        AMAZON_DAMAGED = "amazon_damaged", "Returned unsellable by Amazon's fault"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REIMBURSED = "reimbursed", "Reimbursed"
        DISMISSED = "dismissed", "Dismissed (returned after all)"

    account = models.ForeignKey("marketplaces.SellerAccount", on_delete=models.CASCADE,
                                related_name="+", verbose_name="seller account")
    marketplace = models.ForeignKey("marketplaces.Marketplace", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("why", max_length=32, choices=Kind.choices, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    order_id = models.CharField("order id", max_length=32)
    seller_sku = models.CharField("SKU", max_length=64)
    quantity = models.PositiveIntegerField("units")
    amount_at_stake = models.DecimalField(
        "at stake", **MONEY, null=True, blank=True,
        help_text="What the units were refunded or sold for: what Amazon may owe.")
    currency = models.CharField(max_length=3, blank=True)
    opened_at = models.DateTimeField("opened",
                                     help_text="The refund or return date the claim rests on.")
    match = models.ForeignKey(RefundMatch, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="candidates", verbose_name="refund match")
    return_event = models.ForeignKey(ReturnEvent, null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="candidates",
                                     verbose_name="return")
    reimbursement_line = models.ForeignKey(
        "settlements.SettlementLine", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name="reimbursement line",
        help_text="The settlement line that paid it.",
    )
    reimbursed_amount = models.DecimalField("reimbursed", **MONEY, null=True, blank=True)
    closed_at = models.DateTimeField("closed", null=True, blank=True)

    class Meta:
        ordering = ["status", "opened_at", "id"]
        verbose_name = "reimbursement candidate"
        constraints = [
            models.UniqueConstraint(fields=["match"], condition=Q(match__isnull=False),
                                    name="uniq_candidate_per_match"),
            models.UniqueConstraint(fields=["return_event"],
                                    condition=Q(return_event__isnull=False),
                                    name="uniq_candidate_per_return"),
            models.CheckConstraint(
                condition=Q(kind="refunded_not_returned", match__isnull=False)
                | Q(kind="amazon_damaged", return_event__isnull=False),
                name="candidate_has_its_basis",
            ),
            models.CheckConstraint(
                condition=~Q(status="reimbursed") | Q(reimbursement_line__isnull=False),
                name="candidate_reimbursed_has_line",
            ),
            models.CheckConstraint(
                condition=Q(amount_at_stake__isnull=True) | ~Q(currency=""),
                name="candidate_amount_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.order_id} · {self.seller_sku}"


class CreditMemo(models.Model):
    """The buyer's credit for one refunded order line, for the ERP. Amounts are positive."""

    account = models.ForeignKey("marketplaces.SellerAccount", on_delete=models.CASCADE,
                                related_name="+", verbose_name="seller account")
    marketplace = models.ForeignKey("marketplaces.Marketplace", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    number = models.CharField("memo number", max_length=64, unique=True)
    order_id = models.CharField("order id", max_length=32)
    line_key = models.CharField("order line", max_length=64,
                                help_text="Amazon's order item code, else the SKU.")
    seller_sku = models.CharField("SKU", max_length=64, blank=True)
    quantity = models.PositiveIntegerField("units", default=0)
    currency = models.CharField(max_length=3)
    principal = models.DecimalField("item price", **MONEY, default=0)
    tax = models.DecimalField(**MONEY, default=0)
    shipping = models.DecimalField(**MONEY, default=0)
    promotion = models.DecimalField(**MONEY, default=0, help_text="The discount taken back.")
    total = models.DecimalField(**MONEY, default=0)
    refund_date = models.DateField("refunded on")
    match = models.ForeignKey(RefundMatch, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="credit_memos", verbose_name="refund match")
    order_line = models.ForeignKey("orders.OrderLine", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="credit_memos",
                                   verbose_name="order line item")
    created_at = models.DateTimeField("created", auto_now_add=True)
    exported_at = models.DateTimeField("exported", null=True, blank=True,
                                       help_text="Empty: not yet sent to the ERP.")
    exported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-refund_date", "-id"]
        verbose_name = "credit memo"
        constraints = [
            models.UniqueConstraint(fields=["account", "order_id", "line_key"],
                                    name="uniq_credit_memo_order_line"),
            models.CheckConstraint(condition=Q(quantity__gte=0) & ~Q(currency=""),
                                   name="credit_memo_has_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({money_display(self.total, self.currency)})"
