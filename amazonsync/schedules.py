"""django-q2 schedules kept in step with accounts, marketplaces and flow switches.

One schedule per (active account, switched-on marketplace, flow), named
``flow <flow> <selling partner id> <marketplace code or ->``. ``schedules_sync`` is
idempotent: it creates what is missing, removes what is no longer switched on, and leaves
an existing schedule's interval alone (staff may have edited it in the admin).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django_q.models import Schedule

from .flows import all_flows
from .registry import all_housekeeping, get_flow
from .services import flow_targets

PREFIX = "flow "
TASK = "amazonsync.tasks.run_flow"

@dataclass
class ScheduleSync:
    created: int = 0
    removed: int = 0
    unchanged: int = 0


def schedule_name(flow: str, selling_partner_id: str, marketplace_code: str | None) -> str:
    return f"{PREFIX}{flow} {selling_partner_id} {marketplace_code or '-'}"


def schedules_sync() -> ScheduleSync:
    result = ScheduleSync()
    wanted: dict[str, tuple[str, int, str | None]] = {}
    for flow in all_flows():
        for account, marketplace in flow_targets(flow=flow):
            name = schedule_name(
                flow.name, account.selling_partner_id, marketplace.code if marketplace else None
            )
            wanted[name] = (flow.name, account.pk, marketplace.pk if marketplace else None)
    with transaction.atomic():
        existing = {s.name: s for s in Schedule.objects.filter(name__startswith=PREFIX)}
        for name, schedule in existing.items():
            if name not in wanted:
                schedule.delete()
                result.removed += 1
        for name, (flow, account_id, marketplace_id) in sorted(wanted.items()):
            args = repr((flow, account_id, marketplace_id))
            if name in existing:
                schedule = existing[name]
                if schedule.func != TASK or schedule.args != args:
                    schedule.func, schedule.args = TASK, args
                    schedule.save(update_fields=["func", "args"])
                result.unchanged += 1
                continue
            Schedule.objects.create(
                name=name, func=TASK, args=args, schedule_type=Schedule.MINUTES,
                minutes=get_flow(flow).every, repeats=-1,
            )
            result.created += 1
        for task in all_housekeeping():
            Schedule.objects.get_or_create(
                name=task.name,
                defaults={"func": task.func, "schedule_type": task.schedule_type, "repeats": -1,
                          "minutes": task.minutes},
            )
    return result
