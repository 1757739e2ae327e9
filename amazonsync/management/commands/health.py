from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from amazonsync.health import RED, health_as_json, health_compute, metrics


class Command(BaseCommand):
    help = "Print the seven integration health metrics per marketplace; exit 1 if any is red."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args, json: bool = False, **options):
        data = health_compute()
        if json:
            self.stdout.write(_dumps(health_as_json(data)))
        else:
            registered = metrics()
            for code, figures in data.items():
                self.stdout.write(code)
                for metric in registered:
                    entry = figures[metric.key]
                    self.stdout.write(
                        f"  {metric.key:34} {str(entry['value']):>14}  target "
                        f"{metric.target}  {entry['state']}"
                    )
        if any(e["state"] == RED for m in data.values() for e in m.values()):
            sys.exit(1)


def _dumps(doc) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, default=str)
