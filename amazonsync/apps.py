from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


def _groups_in_step(sender, **kwargs) -> None:
    """After every migrate, the groups hold exactly the permissions of the map (so a line
    added to amazonsync/permissions.py takes effect without a new data migration)."""
    from .permissions import ensure_groups

    ensure_groups(kwargs.get("apps"))


class AmazonsyncConfig(AppConfig):
    name = "amazonsync"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

        # Each app registers its flows (and exception retry handlers) in <app>/flows.py.
        autodiscover_modules("flows")
        # ... the health metrics made of its data (register_metric) in <app>/health.py ...
        autodiscover_modules("health")
        # ... and its scheduled housekeeping tasks (register_housekeeping) in <app>/tasks.py.
        autodiscover_modules("tasks")
        # ... and the panels of the home page made of its data (register_panel) in
        # <app>/dashboard.py.
        autodiscover_modules("dashboard")
        post_migrate.connect(_groups_in_step, sender=self, dispatch_uid="groups_in_step")
