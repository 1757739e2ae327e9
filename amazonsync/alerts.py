"""Alerts: one digest per team, by e-mail and optionally to a chat webhook.

Every five minutes (the "alerts" housekeeping task) ``alerts_send`` gathers what happened
since the last digest and has not been alerted yet:

- a new **critical** exception (open or retrying),
- an exception that went past its **SLA** (due date) while still open,
- a **health metric that turned red** in a marketplace.

Each team (the exception's owner team; a metric's team from ``METRIC_TEAMS``, Ops by
default) gets one mail listing its items in plain words with links into the back office
(absolute, from ``SITE_URL``), sent to ``ALERT_EMAILS[team]`` through Django's e-mail
backend (``EMAIL_URL``), and the same text POSTed to ``ALERT_WEBHOOK_URL`` as
``{"text": ...}`` when one is set. An event is recorded in ``AlertSent`` once delivered, so it
is alerted once; a metric that leaves red is cleared and alerted again the next time it
turns red. A failed delivery is logged, never raised: the events stay for the next digest.
"""

from __future__ import annotations

import datetime
import json
import logging
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .health import RED, health_compute
from .models import AlertSent, Severity, SyncException, Team

log = logging.getLogger(__name__)

ACTIVE = (SyncException.Status.OPEN, SyncException.Status.RETRYING)
METRIC_TEAMS = {"settlement_reconciliation_drift": Team.FINANCE}
HEADINGS = {
    AlertSent.Kind.CRITICAL: "New critical problems",
    AlertSent.Kind.OVERDUE: "Past their deadline (SLA)",
    AlertSent.Kind.RED: "Health turned red",
}
MAX_LINE = 300
MAX_ITEMS = 50  # per section of a digest: the rest is counted, the queue has them all


@dataclass
class Item:
    kind: str
    key: str
    team: str
    text: str
    link: str


@dataclass
class Digest:
    team: str
    items: list[Item] = field(default_factory=list)

    @property
    def subject(self) -> str:
        counts = defaultdict(int)
        for item in self.items:
            counts[item.kind] += 1
        parts = [f"{HEADINGS[kind].lower()} ({n})" for kind, n in counts.items()]
        return f"[Amazon back office] {Team(self.team).label}: {', '.join(parts)}"

    @property
    def text(self) -> str:
        lines = [f"{Team(self.team).label}: what needs attention "
                 f"({timezone.now():%Y-%m-%d %H:%M} UTC)", ""]
        for kind, heading in HEADINGS.items():
            items = [item for item in self.items if item.kind == kind]
            if not items:
                continue
            lines.append(f"{heading} ({len(items)})")
            lines += [f"- {item.text}\n  {item.link}" for item in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                lines.append(f"- … and {len(items) - MAX_ITEMS} more")
            lines.append("")
        queue = reverse("admin:amazonsync_syncexception_changelist")
        lines.append(f"Exception queue: {_url(queue)}")
        return "\n".join(lines)


def _url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


def _where(exc: SyncException) -> str:
    parts = [str(part) for part in (exc.account.name if exc.account_id else None,
                                    exc.marketplace) if part]
    return f" ({' · '.join(parts)})" if parts else ""


def _exception_items(kind: str, rows, sent: set[str]) -> list[Item]:
    items = []
    for exc in rows:
        if str(exc.pk) in sent:
            continue
        due = ""
        if kind == AlertSent.Kind.OVERDUE and exc.due_at:
            due = f" [{exc.get_severity_display()}, due {exc.due_at:%Y-%m-%d %H:%M} UTC]"
        items.append(Item(
            kind=kind, key=str(exc.pk), team=exc.owner_team,
            text=_short(f"{exc.message}{_where(exc)}{due}"),
            link=_url(reverse("admin:amazonsync_syncexception_change", args=[exc.pk])),
        ))
    return items


def _sent_keys(kind: str, *, open_only: bool = False) -> set[str]:
    rows = AlertSent.objects.filter(kind=kind)
    if open_only:
        rows = rows.filter(cleared_at__isnull=True)
    return set(rows.values_list("key", flat=True))


def alert_events(*, now: datetime.datetime) -> tuple[list[Item], list[str]]:
    """(items not alerted yet, keys of red metrics that are red no more)."""
    base = SyncException.objects.filter(status__in=ACTIVE).select_related(
        "account", "marketplace").order_by("pk")
    items = _exception_items(AlertSent.Kind.CRITICAL, base.filter(severity=Severity.CRITICAL),
                             _sent_keys(AlertSent.Kind.CRITICAL))
    items += _exception_items(AlertSent.Kind.OVERDUE, base.filter(due_at__lt=now),
                              _sent_keys(AlertSent.Kind.OVERDUE))
    red_sent = _sent_keys(AlertSent.Kind.RED, open_only=True)
    red_now = set()
    health = reverse("health")
    for code, figures in health_compute(now=now).items():
        for key, entry in figures.items():
            if entry["state"] != RED:
                continue
            alert_key = f"{code}/{key}"
            red_now.add(alert_key)
            if alert_key in red_sent:
                continue
            reason = entry.get("reason") or "outside its target"
            items.append(Item(
                kind=AlertSent.Kind.RED, key=alert_key, team=METRIC_TEAMS.get(key, Team.OPS),
                text=_short(f"{entry['label']} in {code}: {reason}"),
                link=_url(f"{health}#mkt-{code}"),
            ))
    return items, sorted(red_sent - red_now)


def _deliver_mail(digest: Digest) -> bool:
    recipients = settings.ALERT_EMAILS.get(digest.team) or []
    if not recipients:
        return False
    try:
        EmailMessage(subject=digest.subject, body=digest.text, to=recipients).send()
    except Exception:  # a mail server down must not stop the other team's digest
        log.exception("alert digest for %s could not be mailed", digest.team)
        return False
    return True


def _deliver_webhook(digest: Digest) -> bool:
    url = settings.ALERT_WEBHOOK_URL
    if not url:
        return False
    body = json.dumps({"text": f"{digest.subject}\n\n{digest.text}"}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=settings.ALERT_WEBHOOK_TIMEOUT) as answer:
            answer.read()
    except Exception as err:  # logged, never raised: mail may still have gone
        log.warning("alert digest for %s could not be posted to the webhook: %s",
                    digest.team, err)
        return False
    return True


def _record(items: list[Item], *, now: datetime.datetime) -> None:
    with transaction.atomic():
        for item in items:
            AlertSent.objects.update_or_create(
                kind=item.kind, key=item.key,
                defaults={"team": item.team, "sent_at": now, "cleared_at": None},
            )


def alerts_send(*, now: datetime.datetime | None = None) -> int:
    """Send the teams' digests of what was not alerted yet; returns how many were
    delivered (by mail or webhook). Events of a team whose digest could not be delivered
    anywhere stay for the next call."""
    now = now or timezone.now()
    items, cleared = alert_events(now=now)
    if cleared:
        AlertSent.objects.filter(kind=AlertSent.Kind.RED, key__in=cleared).update(
            cleared_at=now)
    by_team: dict[str, Digest] = {}
    for item in items:
        by_team.setdefault(item.team, Digest(team=item.team)).items.append(item)
    delivered = 0
    for team in sorted(by_team):
        digest = by_team[team]
        mailed = _deliver_mail(digest)
        posted = _deliver_webhook(digest)
        if mailed or posted:
            _record(digest.items, now=now)
            delivered += 1
        elif settings.ALERT_EMAILS.get(team) or settings.ALERT_WEBHOOK_URL:
            log.warning("alert digest for %s not delivered: %d item(s) kept for the next one",
                        team, len(digest.items))
    return delivered
