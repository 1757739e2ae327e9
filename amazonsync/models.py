from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .problems import reason_label


class Team(models.TextChoices):
    OPS = "ops", "Ops"
    MERCH = "merch", "Merchandising"
    FINANCE = "finance", "Finance"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class SyncRun(models.Model):
    """One run of one flow for one seller account (and marketplace): what it read and wrote."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (already running)"
        REFUSED = "refused", "Refused (account not usable)"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "By hand (admin)"
        SCHEDULE = "schedule", "Schedule"
        RETRY = "retry", "Exception retry"
        COMMAND = "command", "Command line"

    flow = models.CharField(max_length=64, db_index=True)
    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="sync_runs",
        verbose_name="seller account",
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text="Empty for a flow that runs once for the whole account.",
    )
    trigger = models.CharField(
        "started by", max_length=16, choices=Trigger.choices, default=Trigger.MANUAL
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    started_at = models.DateTimeField(
        "started", db_index=True, help_text="When it started (or was queued, while queued)."
    )
    finished_at = models.DateTimeField("finished", null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0, help_text="Records read from Amazon.")
    created = models.PositiveIntegerField(default=0, help_text="New records stored.")
    updated = models.PositiveIntegerField(default=0, help_text="Stored records changed.")
    unchanged = models.PositiveIntegerField(default=0, help_text="Records already up to date.")
    failed = models.PositiveIntegerField(
        default=0, help_text="Records that could not be applied (see the exception queue)."
    )
    api_calls = models.PositiveIntegerField("Amazon API calls", default=0)
    throttled = models.PositiveIntegerField(
        "throttled calls", default=0, help_text="Calls Amazon answered with a rate limit."
    )
    error = models.TextField(blank=True)
    # Where the run executes: a run still RUNNING whose process is gone (SIGKILLed at
    # shutdown) is found by these and marked failed "interrupted" (runs_mark_interrupted).
    host = models.CharField(max_length=255, blank=True, help_text="host running the flow")
    pid = models.PositiveIntegerField(null=True, blank=True, help_text="its process id")
    since = models.DateTimeField(
        "backfill from", null=True, blank=True,
        help_text="A backfill asked for from the admin: the flow reads again from this date.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Who asked for the run in the admin.",
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["account", "flow", "-started_at"])]
        verbose_name = "sync run"
        permissions = [("run_flow", "Can run a flow now or backfill it from a date")]

    def __str__(self) -> str:
        return f"{self.flow} run #{self.pk} ({self.get_status_display().lower()})"

    @property
    def duration(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class SyncLock(models.Model):
    """At most one run per (flow, account, marketplace): claimed by a conditional UPDATE."""

    flow = models.CharField(max_length=64)
    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="+"
    )
    scope = models.CharField(max_length=20, blank=True, help_text="marketplace id or empty")
    holder = models.CharField(max_length=64, blank=True)
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flow", "account", "scope"], name="uniq_sync_lock")
        ]


class SyncCursor(models.Model):
    """The watermark of a flow per account and marketplace."""

    flow = models.CharField(max_length=64)
    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="sync_cursors"
    )
    scope = models.CharField(max_length=20, blank=True, help_text="marketplace id or empty")
    position = models.DateTimeField(null=True, blank=True)
    token = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flow", "account", "scope"], name="uniq_sync_cursor")
        ]

    def __str__(self) -> str:
        return f"{self.flow} {self.scope or '-'} @ {self.position}"


class SyncException(models.Model):
    """The exception queue: anything a flow could not apply, kept raw with a reason.

    Rows with the same ``group_key`` are one problem seen in several places (the same SKU
    unmapped in five marketplaces, one expired secret refusing every flow): the queue shows
    them as one row with a count, and its actions apply to the whole group.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RETRYING = "retrying", "Retrying"
        RESOLVED = "resolved", "Resolved"
        IGNORED = "ignored", "Ignored"

    flow = models.CharField("flow", max_length=64, db_index=True,
                            help_text="The sync flow that met the problem.")
    account = models.ForeignKey(
        "marketplaces.SellerAccount", null=True, blank=True, on_delete=models.CASCADE,
        related_name="sync_exceptions", verbose_name="seller account",
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name="marketplace",
    )
    object_kind = models.CharField("kind of object", max_length=64,
                                   help_text="What the problem is about: listing, order, "
                                   "settlement, seller account…")
    object_key = models.CharField("object", max_length=255,
                                  help_text="Which one: the SKU, order id or report it is about.")
    reason_code = models.CharField("problem", max_length=64, db_index=True,
                                   help_text="Why it could not be applied.")
    message = models.TextField("message", help_text="What happened, in full.")
    payload = models.JSONField("data received", default=dict, blank=True,
                               help_text="The raw data that could not be applied.")
    owner_team = models.CharField("owner team", max_length=16, choices=Team.choices,
                                  db_index=True, help_text="The team that fixes it.")
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    severity = models.CharField(
        "severity", max_length=8, choices=Severity.choices, default=Severity.NORMAL,
        db_index=True,
    )
    severity_rank = models.PositiveSmallIntegerField("urgency rank", default=2,
                                                     help_text="0 = most urgent")
    due_at = models.DateTimeField("due by", null=True, blank=True,
                                  help_text="First seen plus the severity's SLA.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="assigned_exceptions", verbose_name="assigned to",
    )
    depends_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="dependents",
        verbose_name="waits on", help_text="Retried automatically when this one is resolved.",
    )
    attempts = models.PositiveIntegerField("retries", default=0)
    occurrences = models.PositiveIntegerField(
        "times seen", default=1, help_text="How many times the problem was met.")
    first_seen = models.DateTimeField("first seen")
    last_seen = models.DateTimeField("last seen", db_index=True)
    resolved_at = models.DateTimeField("closed at", null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name="closed by",
        help_text="Who resolved or ignored it, or whose action resolved it automatically.",
    )
    resolved_cause = models.CharField(
        "resolved because", max_length=120, blank=True,
        help_text="What resolved it automatically, e.g. \"mapping saved\"; empty when a "
        "person resolved it by hand.",
    )
    resolution_note = models.TextField("note", blank=True)
    manual_fix = models.BooleanField(
        "closed by hand", default=False,
        help_text="Resolved by a person rather than by a retry or a flow.",
    )
    last_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="exceptions",
        verbose_name="last sync run",
    )
    group_key = models.CharField(
        "problem group", max_length=255, blank=True, default="",
        help_text="The same problem with the same object in other marketplaces or accounts "
        "shares this key.",
    )

    class Meta:
        verbose_name = "sync exception"
        verbose_name_plural = "sync exceptions"
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "object_kind", "object_key", "reason_code"],
                name="uniq_sync_exception",
            ),
            models.CheckConstraint(
                condition=Q(attempts__gte=0) & Q(occurrences__gte=1),
                name="sync_exception_counts_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "owner_team"]),
            models.Index(fields=["status", "severity_rank", "due_at"]),
            models.Index(fields=["group_key", "status", "id"], name="sync_exc_group"),
        ]

    def __str__(self) -> str:
        return f"{reason_label(self.reason_code)}: {self.object_key}"


class RateLimitBucket(models.Model):
    """A token bucket per (seller account, SP-API operation), shared by all processes.

    ``tokens`` is the level at ``refreshed_at`` (seconds on the client's clock); the level
    now is ``min(burst, tokens + rate * elapsed)``.
    """

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="+"
    )
    operation = models.CharField(max_length=64)
    tokens = models.FloatField()
    rate = models.FloatField(help_text="tokens restored per second")
    burst = models.FloatField(help_text="bucket size")
    refreshed_at = models.FloatField(help_text="clock seconds of the last update")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "operation"], name="uniq_rate_bucket")
        ]

    def __str__(self) -> str:
        return f"{self.operation} ({self.rate}/s, burst {self.burst:g})"


class ApiCall(models.Model):
    """One SP-API request, recorded on the run that made it."""

    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.CASCADE, related_name="calls",
        verbose_name="sync run",
    )
    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="+",
        verbose_name="seller account",
    )
    operation = models.CharField(max_length=64, help_text="Amazon's name of the operation.")
    method = models.CharField("HTTP method", max_length=8)
    path = models.CharField(max_length=512)
    status_code = models.PositiveSmallIntegerField("HTTP status", null=True, blank=True)
    duration_ms = models.PositiveIntegerField("duration (ms)", default=0)
    throttled = models.BooleanField(default=False, help_text="Amazon answered: too many calls.")
    request_id = models.CharField("Amazon request id", max_length=128, blank=True)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField("when", auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "Amazon API call"

    def __str__(self) -> str:
        return f"{self.method} {self.operation} ({self.status_code or 'no answer'})"


class AlertSent(models.Model):
    """An event already alerted (a critical exception, an SLA breach, a metric turning red):
    each is sent once, in the digest of the team it concerns."""

    class Kind(models.TextChoices):
        CRITICAL = "critical", "New critical exception"
        OVERDUE = "overdue", "Exception past its SLA"
        RED = "red", "Health metric turned red"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(
        max_length=255, help_text="What was alerted: an exception id, or marketplace and metric."
    )
    team = models.CharField(max_length=16, choices=Team.choices)
    sent_at = models.DateTimeField("sent", db_index=True)
    cleared_at = models.DateTimeField(
        "cleared", null=True, blank=True,
        help_text="A metric back out of red: the next time it turns red is alerted again.",
    )

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = "alert sent"
        verbose_name_plural = "alerts sent"
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="uniq_alert_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.key}"


class HealthSnapshot(models.Model):
    """One health figure of one marketplace on one day (trends survive data pruning)."""

    day = models.DateField()
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", on_delete=models.CASCADE, related_name="+"
    )
    metric = models.CharField(max_length=64)
    value = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    state = models.CharField(max_length=8)

    class Meta:
        ordering = ["-day", "marketplace", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["day", "marketplace", "metric"],
                                    name="uniq_health_snapshot")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.marketplace_id} {self.metric}={self.value} ({self.state})"
