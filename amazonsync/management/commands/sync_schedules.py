from django.core.management.base import BaseCommand

from amazonsync.schedules import schedules_sync


class Command(BaseCommand):
    help = "Create/remove the django-q2 schedules of every enabled flow (idempotent)."

    def handle(self, *args, **options):
        result = schedules_sync()
        self.stdout.write(
            f"schedules: {result.created} created, {result.removed} removed, "
            f"{result.unchanged} unchanged"
        )
