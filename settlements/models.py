"""Settlements: what Amazon paid (Settlement, SettlementLine), how it maps to the books
(GLAccount, GLMapping) and the journal batches that carry it there (JournalBatch,
JournalLine). Business rules live in services.py; the database enforces the invariants
(unique natural keys, CHECK constraints such as four eyes and explained adjustments, and on
PostgreSQL triggers that keep approved batches immutable and non-draft batches balanced,
refuse approval of a settlement that does not reconcile, pin the settlement lines and GL
codes behind approved batches, and refuse TRUNCATE: migrations 0003 and 0007)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from amazonsync.money import display as money_display

MONEY = {"max_digits": 18, "decimal_places": 4}
ZERO = Decimal("0")


class Settlement(models.Model):
    """One V2 settlement report: its summary row and the reconciliation figures."""

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.PROTECT, related_name="settlements",
        verbose_name="seller account",
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text="the marketplace Amazon settled (empty when unknown)",
    )
    settlement_id = models.CharField("settlement id", max_length=32,
                                     help_text="Amazon's number for this settlement")
    start_date = models.DateTimeField("period start")
    end_date = models.DateTimeField("period end", db_index=True)
    deposit_date = models.DateTimeField("deposit date", null=True, blank=True,
                                        help_text="when Amazon paid the total out")
    total_amount = models.DecimalField("total paid out", **MONEY,
                                       help_text="the settlement's total, as Amazon states it")
    currency = models.CharField(max_length=3)
    line_count = models.PositiveIntegerField("lines", default=0)
    sum_of_lines = models.DecimalField("sum of the lines", **MONEY, default=ZERO)
    columns = models.JSONField("file columns", default=list, blank=True,
                               help_text="the header of the file")
    summary_extra = models.JSONField("other summary values", default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the parsed content")
    source_name = models.CharField("imported from", max_length=255, blank=True)
    report_document_id = models.CharField("report document id", max_length=255, blank=True)
    imported_at = models.DateTimeField("imported at")
    # reconciliation, recomputed by settlement_reconcile()
    internal_drift = models.DecimalField(
        "internal drift", **MONEY, default=ZERO,
        help_text="Amazon's total minus the sum of its lines",
    )
    journal_net = models.DecimalField("journal net", **MONEY, null=True, blank=True,
                                      help_text="what the journal batches book")
    journal_drift = models.DecimalField(
        "journal drift", **MONEY, null=True, blank=True,
        help_text="the total minus the journal net and the explained adjustments",
    )
    bank_deposit_amount = models.DecimalField(
        "bank deposit", **MONEY, null=True, blank=True,
        help_text="the amount that arrived on the bank account, when recorded",
    )
    deposit_drift = models.DecimalField("deposit drift", **MONEY, null=True, blank=True,
                                        help_text="the total minus the bank deposit")
    previous_reserve = models.DecimalField("reserve carried in", **MONEY, default=ZERO)
    current_reserve = models.DecimalField("reserve held back", **MONEY, default=ZERO)
    reserve_drift = models.DecimalField(
        "reserve drift", **MONEY, null=True, blank=True,
        help_text="the reserve carried in here against the one the previous settlement held",
    )
    unmapped_lines = models.PositiveIntegerField(
        "lines without a GL account", default=0,
        help_text="lines no GL mapping rule covers: they keep the journal in draft",
    )
    order_issues = models.PositiveIntegerField("order issues", null=True, blank=True)
    adjustment_net = models.DecimalField(
        "explained adjustments", **MONEY, default=ZERO,
        help_text="net of the explained adjustment lines recorded by accountants",
    )
    has_drift = models.BooleanField("has drift", default=False, db_index=True)
    reconciled_at = models.DateTimeField("reconciled at", null=True, blank=True)

    class Meta:
        ordering = ["-end_date", "-id"]
        verbose_name = "settlement"
        verbose_name_plural = "settlements"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "settlement_id"], name="uniq_settlement_account_id"
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")),
                name="settlement_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["marketplace", "end_date"])]

    def __str__(self) -> str:
        return f"Settlement {self.settlement_id}"


class SettlementLine(models.Model):
    """One line of a settlement file, every column kept; unknown columns in ``extra``."""

    # Indexed by the (settlement, line_number) unique constraint. No per-row foreign-key
    # trigger: lines are only written by the import, in the transaction that creates their
    # settlement, and settlements are never deleted (PROTECTed by their journal batches).
    settlement = models.ForeignKey(
        Settlement, on_delete=models.CASCADE, related_name="lines", db_index=False,
        db_constraint=False,
    )
    line_number = models.PositiveIntegerField("line")
    transaction_type = models.TextField("transaction type", blank=True)
    order_id = models.TextField("Amazon order", blank=True)
    merchant_order_id = models.TextField("merchant order", blank=True)
    adjustment_id = models.TextField("adjustment id", blank=True)
    shipment_id = models.TextField("shipment id", blank=True)
    marketplace_name = models.TextField("marketplace", blank=True)
    amount_type = models.TextField("amount type", blank=True)
    amount_description = models.TextField("amount description", blank=True)
    amount = models.DecimalField(**MONEY)
    fulfillment_id = models.TextField("fulfilment", blank=True)
    posted_date = models.DateField("posted on", null=True, blank=True)
    posted_date_time = models.DateTimeField("posted at", null=True, blank=True)
    order_item_code = models.TextField("order item", blank=True)
    merchant_order_item_id = models.TextField("merchant order item", blank=True)
    merchant_adjustment_item_id = models.TextField("merchant adjustment item", blank=True)
    sku = models.TextField("SKU", blank=True)
    quantity_purchased = models.IntegerField("quantity", null=True, blank=True)
    promotion_id = models.TextField("promotion", blank=True)
    extra = models.JSONField("other columns", default=dict, blank=True)

    class Meta:
        ordering = ["settlement", "line_number"]
        verbose_name = "settlement line"
        verbose_name_plural = "settlement lines"
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "line_number"], name="uniq_settlement_line_number"
            )
        ]

    def __str__(self) -> str:
        return f"Line {self.line_number}: {self.transaction_type or 'no type'}"


class GLAccount(models.Model):
    class Type(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        EQUITY = "equity", "Equity"
        INCOME = "income", "Income"
        EXPENSE = "expense", "Expense"

    class Role(models.TextChoices):
        NONE = "", "—"
        AMAZON_CLEARING = "amazon_clearing", "Amazon clearing (balances every batch)"
        BANK_CLEARING = "bank_clearing", "Bank clearing (deposits)"

    code = models.CharField(max_length=32, unique=True,
                            help_text="the account number in the ledger")
    name = models.CharField(max_length=128)
    type = models.CharField(max_length=16, choices=Type.choices)
    role = models.CharField(
        max_length=32, choices=Role.choices, blank=True, default="",
        help_text="a special part this account plays in every journal (at most one each)",
    )
    active = models.BooleanField(default=True,
                                 help_text="inactive accounts take no new lines")
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = "GL account"
        verbose_name_plural = "GL accounts"
        constraints = [
            models.UniqueConstraint(
                fields=["role"], condition=~Q(role=""), name="uniq_glaccount_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class GLMapping(models.Model):
    """Which GL account a settlement line goes to.

    Each of transaction type, amount type and amount description is matched exactly
    (case-insensitive) or, with ``pattern``, as a shell-style pattern (``*``, ``?``);
    an empty field matches anything. The most specific rule wins: a marketplace rule
    before a general one, then more exact fields, then longer literal text.
    """

    transaction_type = models.CharField("transaction type", max_length=128, blank=True,
                                        help_text="empty: any transaction type")
    amount_type = models.CharField("amount type", max_length=128, blank=True,
                                   help_text="empty: any amount type")
    amount_description = models.CharField("amount description", max_length=255, blank=True,
                                          help_text="empty: any amount description")
    pattern = models.BooleanField(
        "pattern", default=False,
        help_text="treat the fields as patterns (* and ?) instead of exact text",
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text="empty: every marketplace",
    )
    gl_account = models.ForeignKey(GLAccount, on_delete=models.PROTECT, related_name="mappings",
                                   verbose_name="GL account")
    memo = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["transaction_type", "amount_type", "amount_description", "marketplace"]
        verbose_name = "GL mapping"
        verbose_name_plural = "GL mappings"
        constraints = [
            models.UniqueConstraint(
                fields=["transaction_type", "amount_type", "amount_description", "pattern"],
                condition=Q(marketplace__isnull=True),
                name="uniq_glmapping_general",
            ),
            models.UniqueConstraint(
                fields=[
                    "transaction_type", "amount_type", "amount_description", "pattern",
                    "marketplace",
                ],
                condition=Q(marketplace__isnull=False),
                name="uniq_glmapping_marketplace",
            ),
        ]

    def __str__(self) -> str:
        parts = " / ".join(
            p or "*" for p in (self.transaction_type, self.amount_type, self.amount_description)
        )
        return f"{parts} → {self.gl_account.code}" if self.gl_account_id else parts


class JournalBatch(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        READY = "ready", "Ready for approval"
        APPROVED = "approved", "Approved"
        EXPORTED = "exported", "Exported"

    class Kind(models.TextChoices):
        JOURNAL = "journal", "Journal"
        REVERSAL = "reversal", "Reversal"

    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, related_name="journal_batches"
    )
    period = models.DateField("accounting month", help_text="first day of the accounting month")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.JOURNAL)
    generation = models.PositiveIntegerField(
        default=1, help_text="1 for the month's first batch; one more after each reversal",
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by",
        help_text="the approved batch this reversal takes back",
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    currency = models.CharField(max_length=3)
    entry_date = models.DateField("entry date", help_text="the date the journal is booked on")
    reference = models.CharField(max_length=64)
    unmapped_lines = models.PositiveIntegerField(
        "lines without a GL account", default=0,
        help_text="settlement lines no GL mapping rule covers: the batch stays in draft",
    )
    debit_total = models.DecimalField("total debit", **MONEY, default=ZERO)
    credit_total = models.DecimalField("total credit", **MONEY, default=ZERO)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name="built by",
        help_text="who built the batch (empty: the settlement import)",
    )
    last_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name="last changed by",
    )
    ready_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name="prepared by",
        help_text="the accountant who marked it ready for approval",
    )
    ready_at = models.DateTimeField("prepared at", null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name="approved by",
    )
    approved_at = models.DateTimeField("approved at", null=True, blank=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name="exported by",
    )
    exported_at = models.DateTimeField("exported at", null=True, blank=True)
    created_at = models.DateTimeField("created at", auto_now_add=True)
    history = HistoricalRecords(
        excluded_fields=["created_at"],
        verbose_name="historical journal batch",
    )

    class Meta:
        ordering = ["-period", "-id"]
        verbose_name = "journal batch"
        verbose_name_plural = "journal batches"
        permissions = [("approve_journalbatch", "Can approve journal batches (four eyes)")]
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "period", "kind", "generation"],
                name="uniq_journalbatch_period_generation",
            ),
            models.CheckConstraint(
                condition=Q(kind="journal", reverses__isnull=True)
                | Q(kind="reversal", reverses__isnull=False),
                name="journalbatch_reversal_has_original",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "exported"])
                | Q(approved_by__isnull=False, unmapped_lines=0),
                name="journalbatch_approved_has_approver",
            ),
            # four eyes: whoever prepared or last changed a batch never approves it
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(prepared_by__isnull=True)
                | ~Q(approved_by=F("prepared_by")),
                name="journalbatch_approver_not_preparer",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(last_changed_by__isnull=True)
                | ~Q(approved_by=F("last_changed_by")),
                name="journalbatch_approver_not_last_changer",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_locked(self) -> bool:
        return self.status in (self.Status.APPROVED, self.Status.EXPORTED)

    @property
    def balanced(self) -> bool:
        return self.debit_total == self.credit_total


class JournalLine(models.Model):
    class Role(models.TextChoices):
        LINE = "line", "Settlement lines"
        CLEARING = "clearing", "Amazon clearing"
        DEPOSIT = "deposit", "Deposit"
        ADJUSTMENT = "adjustment", "Explained adjustment"

    batch = models.ForeignKey(JournalBatch, on_delete=models.CASCADE, related_name="lines",
                              verbose_name="journal batch")
    gl_account = models.ForeignKey(GLAccount, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="GL account")
    role = models.CharField("from", max_length=16, choices=Role.choices, default=Role.LINE)
    entry_date = models.DateField("entry date")
    debit = models.DecimalField(**MONEY, default=ZERO)
    credit = models.DecimalField(**MONEY, default=ZERO)
    currency = models.CharField(max_length=3)
    memo = models.CharField(max_length=255, blank=True)
    explanation = models.TextField(
        blank=True, help_text="why an adjustment was recorded (adjustment lines only)"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text="the accountant who recorded an adjustment",
    )

    class Meta:
        ordering = ["batch", "id"]
        verbose_name = "journal line"
        verbose_name_plural = "journal lines"
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="adjustment") | (~Q(explanation="")
                                                   & Q(recorded_by__isnull=False)),
                name="journalline_adjustment_explained",
            ),
            models.CheckConstraint(condition=Q(debit__gte=0), name="journalline_debit_positive"),
            models.CheckConstraint(
                condition=Q(credit__gte=0), name="journalline_credit_positive"
            ),
            models.CheckConstraint(
                condition=Q(debit__gt=0, credit=0) | Q(credit__gt=0, debit=0),
                name="journalline_exactly_one_side",
            ),
        ]

    def __str__(self) -> str:
        if self.debit:
            return f"Debit {money_display(self.debit, self.currency)}"
        return f"Credit {money_display(self.credit, self.currency)}"


class SettlementReportDocument(models.Model):
    """A settlement report document the flow has processed: downloaded at most once."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Imported"
        UNCHANGED = "unchanged", "Already imported"
        CONFLICT = "conflict", "Conflict with an imported settlement"

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="+"
    )
    report_id = models.CharField("report id", max_length=64)
    report_document_id = models.CharField("report document id", max_length=255)
    created_time = models.DateTimeField("created by Amazon at", null=True, blank=True)
    settlement = models.ForeignKey(
        Settlement, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    processed_at = models.DateTimeField("processed at", auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]
        verbose_name = "settlement report file"
        verbose_name_plural = "settlement report files"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "report_document_id"], name="uniq_settlement_report_document"
            )
        ]

    def __str__(self) -> str:
        return f"Report {self.report_id} ({self.get_outcome_display().lower()})"
